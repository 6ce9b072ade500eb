// Command testapp is the only file in the e2e test images (FROM scratch). It
// waits for SIGTERM, optionally printing files first or serving HTTP:
//
//	/app                 wait
//	/app cat FILE...     print each file to stdout, then wait
//	/app serve ADDR      answer "ok" over HTTP on ADDR until SIGTERM
//	/app exit CODE       exit at once with CODE (a job, or a crashing task)
//	/app expect FILE TEXT [FILE TEXT...]
//	                     exit 1 unless each FILE holds TEXT; then wait
//	/app check FILE TEXT [FILE TEXT...]
//	                     the same, but exit 0 when they all do (a job)
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	args := os.Args[1:]
	if len(args) > 0 {
		switch args[0] {
		case "cat":
			for _, f := range args[1:] {
				b, err := os.ReadFile(f)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				fmt.Printf("%s: %s\n", f, b)
			}
		case "expect", "check":
			for i := 1; i+1 < len(args); i += 2 {
				b, err := os.ReadFile(args[i])
				if err != nil || string(b) != args[i+1] {
					fmt.Fprintf(os.Stderr, "%s does not hold the expected value\n", args[i])
					os.Exit(1)
				}
				fmt.Printf("%s: as expected\n", args[i])
			}
			if args[0] == "check" {
				os.Exit(0)
			}
		case "exit":
			code := 0
			if len(args) > 1 {
				_, _ = fmt.Sscan(args[1], &code)
			}
			os.Exit(code)
		case "serve":
			if len(args) != 2 {
				fmt.Fprintln(os.Stderr, "usage: app serve ADDR")
				os.Exit(2)
			}
			go func() {
				err := http.ListenAndServe(args[1], http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					fmt.Fprintln(w, "ok")
				}))
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}()
		default:
			fmt.Fprintf(os.Stderr, "unknown mode %q\n", args[0])
			os.Exit(2)
		}
	}
	<-stop
}
