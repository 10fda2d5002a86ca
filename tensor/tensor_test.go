package tensor

import (
	"errors"
	"testing"
)

// TestNewCapRefit: NewCap leaves room past the shape; Refit grows and
// shrinks a header within it, keeping the elements it covers, and refuses
// more than the capacity; Remake gives the header a new array; a view
// made before keeps its shape and data.
func TestNewCapRefit(t *testing.T) {
	x, err := NewCap(Float32, 12, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != 6 || cap(Data[float32](x)) != 12 {
		t.Fatalf("NewCap(12, 2, 3): %d elements, capacity %d", x.Len(), cap(Data[float32](x)))
	}
	for i := range Data[float32](x) {
		Data[float32](x)[i] = float32(i)
	}
	view, _ := x.Reshape(6)
	if err := x.Refit([]int{3, 4}); err != nil {
		t.Fatal(err)
	}
	d := Data[float32](x)
	if len(d) != 12 || !SameShape(x.Shape(), []int{3, 4}) || d[5] != 5 || &d[0] != &Data[float32](view)[0] {
		t.Fatalf("after Refit(3, 4): shape %v, data %v", x.Shape(), d)
	}
	if view.Len() != 6 || !SameShape(view.Shape(), []int{6}) {
		t.Fatalf("the view changed: %v", view)
	}
	if err := x.Refit([]int{2}); err != nil || x.Len() != 2 {
		t.Fatalf("Refit(2): %v, %d elements", err, x.Len())
	}
	if err := x.Refit([]int{13}); !errors.Is(err, ErrShape) {
		t.Fatalf("Refit past the capacity: %v, want ErrShape", err)
	}
	if _, err := NewCap(Int64, 5, 2, 3); !errors.Is(err, ErrShape) {
		t.Fatalf("NewCap below the shape's size: %v, want ErrShape", err)
	}
	// Remake gives the header a new zeroed array, of another dtype too;
	// the view keeps the old one.
	if err := x.Remake(Int64, 8, []int{2, 2}); err != nil {
		t.Fatal(err)
	}
	if x.DType() != Int64 || cap(Data[int64](x)) != 8 || !SameShape(x.Shape(), []int{2, 2}) || Data[int64](x)[3] != 0 {
		t.Fatalf("after Remake(int64, 8, (2, 2)): %v", x)
	}
	if Data[float32](view)[5] != 5 {
		t.Fatalf("the view lost its data: %v", view)
	}
	if err := x.Remake(Int64, 3, []int{2, 2}); !errors.Is(err, ErrShape) {
		t.Fatalf("Remake below the shape's size: %v, want ErrShape", err)
	}
}
