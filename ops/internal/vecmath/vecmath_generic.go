//go:build !amd64

package vecmath

// available lists the implementations this CPU can run, best first.
func available() []*vec { return []*vec{pureGo} }
