package main

// extraCommands are the commands added as their packages land.
func extraCommands() []*command { return nil }
