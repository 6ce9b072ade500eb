package sandbox

import (
	"fmt"
	"os"
	"slices"
)

// Program is the TB of a program that uses the sandbox (the demo, the
// benchmark): Fatal panics with a Failure, which Run turns into an error, and
// cleanups run when Run returns.
type Program struct {
	sb       *Sandbox
	cleanups []func()
}

// Failure is what Program.Fatal panics with.
type Failure string

func (p *Program) Helper()           {}
func (p *Program) Cleanup(f func())  { p.cleanups = append(p.cleanups, f) }
func (p *Program) Fatal(args ...any) { panic(Failure(fmt.Sprint(args...))) }

// TempDir makes a directory inside the sandbox's run directory.
func (p *Program) TempDir() string {
	dir, err := os.MkdirTemp(p.sb.Dir, "tmp-")
	if err != nil {
		p.Fatal(err)
	}
	return dir
}

// Run calls body with a Program for sb and returns the Failure it raised, if
// any, after running the cleanups.
func Run(sb *Sandbox, body func(p *Program) error) (err error) {
	p := &Program{sb: sb}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(Failure)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", string(f))
		}
		for _, c := range slices.Backward(p.cleanups) {
			c()
		}
	}()
	return body(p)
}
