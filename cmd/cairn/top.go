package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func topCommand() *command {
	return &command{
		name:  "top",
		usage: "--metrics ADDR [--interval D] [--count N]",
		summary: "Show live per-operation rates of a brick, mount, gateway or cairn up.\n\n" +
			"Reads the Prometheus /metrics endpoint (the --metrics ADDR of that process)\n" +
			"every interval and prints, per operation, calls/s, errors/s, mean latency,\n" +
			"and the read and write throughput (as gluster volume top).",
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			addr := fs.String("metrics", "127.0.0.1:9100", "metrics endpoint `ADDR` (host:port or URL)")
			interval := fs.Duration("interval", 2*time.Second, "sampling `D`uration")
			count := fs.Int("count", 0, "stop after `N` samples (0: until Ctrl-C)")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				url := *addr
				if !strings.Contains(url, "://") {
					url = "http://" + url + "/metrics"
				}
				prev, err := scrape(ctx, url)
				if err != nil {
					return err
				}
				for n := 0; *count == 0 || n < *count; n++ {
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(*interval):
					}
					cur, err := scrape(ctx, url)
					if err != nil {
						return err
					}
					printTop(e.stdout, prev, cur, *interval)
					prev = cur
				}
				return nil
			}
		},
	}
}

// sample holds the io-stats counters of one scrape, keyed by volume/fop.
type sample struct {
	calls, errors, latencySum map[string]float64
	read, written             map[string]float64 // by volume
}

func scrape(ctx context.Context, url string) (*sample, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w (hint: start the process with --metrics)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (*sample, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	s := &sample{calls: map[string]float64{}, errors: map[string]float64{}, latencySum: map[string]float64{}, read: map[string]float64{}, written: map[string]float64{}}
	label := func(m *dto.Metric, name string) string {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
		return ""
	}
	for name, fam := range families {
		for _, m := range fam.GetMetric() {
			key := label(m, "volume") + "\x00" + label(m, "fop")
			switch name {
			case "cairn_fop_calls_total":
				s.calls[key] = m.GetCounter().GetValue()
			case "cairn_fop_errors_total":
				s.errors[key] = m.GetCounter().GetValue()
			case "cairn_fop_latency_seconds":
				s.latencySum[key] = m.GetHistogram().GetSampleSum()
			case "cairn_bytes_read_total":
				s.read[label(m, "volume")] = m.GetCounter().GetValue()
			case "cairn_bytes_written_total":
				s.written[label(m, "volume")] = m.GetCounter().GetValue()
			}
		}
	}
	return s, nil
}

func printTop(w io.Writer, prev, cur *sample, interval time.Duration) {
	secs := interval.Seconds()
	type row struct {
		vol, fop          string
		rate, errs, latMS float64
	}
	var rows []row
	for key, c := range cur.calls {
		d := c - prev.calls[key]
		if d <= 0 {
			continue
		}
		vol, fop, _ := strings.Cut(key, "\x00")
		lat := (cur.latencySum[key] - prev.latencySum[key]) / d * 1000
		rows = append(rows, row{vol, fop, d / secs, (cur.errors[key] - prev.errors[key]) / secs, lat})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].rate > rows[j].rate })
	fmt.Fprintf(w, "%s\n", time.Now().Format("15:04:05"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VOLUME\tFOP\tCALLS/S\tERRORS/S\tAVG LATENCY")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.3f ms\n", r.vol, r.fop, r.rate, r.errs, r.latMS)
	}
	tw.Flush()
	for vol := range cur.read {
		rd := (cur.read[vol] - prev.read[vol]) / secs
		wr := (cur.written[vol] - prev.written[vol]) / secs
		fmt.Fprintf(w, "%s: read %s/s, written %s/s\n", vol, humanBytes(rd), humanBytes(wr))
	}
	fmt.Fprintln(w)
}
