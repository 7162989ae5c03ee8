package main

import (
	"fmt"
	"io"
)

// extraCommands are the commands added as their packages land.
func extraCommands() []*command { return nil }

func runMountHelper(argv []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "mount.cairn: not yet available")
	return 1
}
