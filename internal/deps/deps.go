//go:build tools

// Package deps pins the project's chosen libraries in go.mod before every
// package that uses them exists.
package deps

import (
	_ "github.com/go-git/go-billy/v5"
	_ "github.com/hanwen/go-fuse/v2/fs"
	_ "github.com/hanwen/go-fuse/v2/posixtest"
	_ "github.com/hugelgupf/p9/p9"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/willscott/go-nfs"
	_ "github.com/willscott/go-nfs-client/nfs"
	_ "golang.org/x/sys/unix"
	_ "google.golang.org/grpc"
	_ "google.golang.org/protobuf/proto"
)
