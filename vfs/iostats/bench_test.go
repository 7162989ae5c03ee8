package iostats

import (
	"testing"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkGetAttr measures what io-stats adds to a cheap operation.
func BenchmarkGetAttr(b *testing.B) {
	fs := memfs.New(memfs.Config{})
	for _, tc := range []struct {
		name string
		x    vfs.Translator
	}{
		{"bare", fs},
		{"iostats", must(New(Config{Name: "v"}, fs))},
		{"iostats+prometheus", must(New(Config{Name: "v", Registerer: prometheus.NewRegistry()}, fs))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				tc.x.GetAttr(bg, vfs.RootGFID, 0)
			}
		})
	}
}

func must(s *IOStats, err error) *IOStats {
	if err != nil {
		panic(err)
	}
	return s
}
