package node

import "flag"

var update = flag.Bool("update", false, "rewrite the golden .out files from the current output")
