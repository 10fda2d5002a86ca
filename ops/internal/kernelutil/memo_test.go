package kernelutil

import "testing"

// A Memo answers for the last two shape pairs put, each with its own plan,
// and forgets the older one on a third Put; shapes differing in a or b
// (nil b included) miss.
func TestMemo(t *testing.T) {
	var m Memo[string]
	if _, ok := m.Get([]int{1}, nil); ok {
		t.Fatal("an empty memo hit")
	}
	prompt, decode, other := []int{1, 4, 8}, []int{1, 1, 8}, []int{2, 1, 8}
	w := []int{8, 16}
	m.Put(prompt, w, "prompt")
	m.Put(decode, w, "decode")
	for _, c := range []struct {
		a, b []int
		want string
	}{{prompt, w, "prompt"}, {decode, w, "decode"}, {prompt, nil, ""}, {w, prompt, ""}, {other, w, ""}} {
		p, ok := m.Get(c.a, c.b)
		if ok != (c.want != "") || p != c.want {
			t.Errorf("Get(%v, %v) = %q, %v; want %q", c.a, c.b, p, ok, c.want)
		}
	}
	prompt[0] = 9 // Put copied the shapes
	if p, ok := m.Get([]int{1, 4, 8}, w); !ok || p != "prompt" {
		t.Errorf("after the caller changed its shape, Get = %q, %v; want prompt", p, ok)
	}
	m.Put(other, w, "other")
	if _, ok := m.Get([]int{1, 4, 8}, w); ok {
		t.Error("the oldest of three entries still hits")
	}
	for _, c := range []struct {
		a    []int
		want string
	}{{decode, "decode"}, {other, "other"}} {
		if p, ok := m.Get(c.a, w); !ok || p != c.want {
			t.Errorf("Get(%v) = %q, %v; want %q", c.a, p, ok, c.want)
		}
	}
}
