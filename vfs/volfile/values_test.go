package volfile

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	const (
		k = 1 << 10
		m = 1 << 20
		g = 1 << 30
	)
	good := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"4096", 4096},
		{"100B", 100},
		{"512MB", 512 * m}, // GlusterFS units are binary
		{"512M", 512 * m},
		{"512MiB", 512 * m},
		{"512mb", 512 * m},
		{"512 MB", 512 * m},
		{"32KB", 32 * k},
		{"1k", k},
		{"2GB", 2 * g},
		{"1TB", 1 << 40},
		{"1PiB", 1 << 50},
		{"1.5GB", 3 * g / 2},
		{"0.5K", 512},
		{" 64MB ", 64 * m},
		{"8191PB", 8191 << 50},
	}
	for _, tt := range good {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "MB", "512XB", "-1", "+1", "1e6", "1..5", "1.5.5MB", "0x10", "12 34", "8192PB", "99999999999999999999", "NaN", "Inf"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
	if _, err := ParseSize("512XB"); err == nil || !strings.Contains(err.Error(), "KB/MB/GB/TB") {
		t.Errorf("ParseSize error lacks the expected form: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	good := []struct {
		in   string
		want time.Duration
	}{
		{"60", 60 * time.Second}, // GlusterFS: plain numbers are seconds
		{"0", 0},
		{"0.5", 500 * time.Millisecond},
		{"42", 42 * time.Second},
		{"60s", 60 * time.Second},
		{"2m", 2 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"500ms", 500 * time.Millisecond},
		{" 10 ", 10 * time.Second},
	}
	for _, tt := range good {
		got, err := ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "-5", "-5s", "+5s", "soon", "5 s", "1e3", "10000000000", "1d"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseBool(t *testing.T) {
	for _, in := range []string{"on", "yes", "true", "enable", "1", "ON", "Yes", "TRUE", "Enable"} {
		if b, err := ParseBool(in); err != nil || !b {
			t.Errorf("ParseBool(%q) = %v, %v", in, b, err)
		}
	}
	for _, in := range []string{"off", "no", "false", "disable", "0", "OFF", "No"} {
		if b, err := ParseBool(in); err != nil || b {
			t.Errorf("ParseBool(%q) = %v, %v", in, b, err)
		}
	}
	for _, in := range []string{"", "y", "2", "enabled", "nope"} {
		if _, err := ParseBool(in); err == nil {
			t.Errorf("ParseBool(%q) accepted", in)
		}
	}
}

func TestParsePercent(t *testing.T) {
	good := map[string]float64{"10%": 10, "10": 10, "0": 0, "100%": 100, "12.5 %": 12.5}
	for in, want := range good {
		if got, err := ParsePercent(in); err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "%", "101", "-1%", "ten", "10%%", "NaN"} {
		if got, err := ParsePercent(in); err == nil {
			t.Errorf("ParsePercent(%q) = %v, want an error", in, got)
		}
	}
}

func TestKindString(t *testing.T) {
	if Size.String() != "size" || List.String() != "list" || Kind(-1).String() != "Kind(-1)" {
		t.Error(Size, List, Kind(-1))
	}
	if compare(int64(math.MaxInt64), int64(math.MaxInt64-1)) != 1 {
		t.Error("compare must be exact for large integers")
	}
}
