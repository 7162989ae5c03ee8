package stack

import "github.com/cairnfs/cairn/vfs/volfile"

// addClientTypes registers the client-side translators.
func addClientTypes(env Env, reg volfile.Registry) {}
