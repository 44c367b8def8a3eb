// Command hello is the start-up floor of a Go binary: see ../doc.go.
package main

import "os"

func main() { os.Stdout.WriteString("usage: hello\n") }
