// Command hoard is an HTTP caching reverse proxy (RFC 9111).
//
// All of the work happens in internal/cli; this file only hands over the
// arguments and exits with the status it returns.
package main

import (
	"os"

	"github.com/hoard-cache/hoard/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
