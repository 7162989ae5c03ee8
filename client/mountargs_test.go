package client

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseMountArgs(t *testing.T) {
	def := DefaultOptions()
	srv := func(h string, p int) Server { return Server{Host: h, Port: p} }
	for _, tc := range []struct {
		name    string
		args    string
		check   func(t *testing.T, s MountSpec)
		wantErr string
	}{
		{
			name: "tutorial fstab line via mount(8)",
			args: "brick1:web_sites /web/sites -o rw,backupvolfile-server=brick2,direct-io-mode=disable,noatime,_netdev",
			check: func(t *testing.T, s MountSpec) {
				want := []Server{srv("brick1", DefaultPort), srv("brick2", DefaultPort)}
				if !reflect.DeepEqual(s.Servers, want) {
					t.Errorf("servers %v, want %v", s.Servers, want)
				}
				if s.Volume != "web_sites" || s.Mountpoint != "/web/sites" || s.Source != "brick1:web_sites" {
					t.Errorf("volume %q mountpoint %q source %q", s.Volume, s.Mountpoint, s.Source)
				}
				if !s.Options.NoAtime || s.Options.DirectIO != DirectIODisable || s.Options.ReadOnly {
					t.Errorf("options %+v", s.Options)
				}
				if s.Options.FsName != "brick1:web_sites" {
					t.Errorf("fsname %q", s.Options.FsName)
				}
				if !reflect.DeepEqual(s.Ignored, []string{"_netdev"}) {
					t.Errorf("ignored %v", s.Ignored)
				}
			},
		},
		{
			name: "defaults",
			args: "h:v /m",
			check: func(t *testing.T, s MountSpec) {
				if s.Options.EntryTimeout != def.EntryTimeout || s.Options.AttrTimeout != time.Second || s.Options.NegativeTimeout != 0 {
					t.Errorf("timeouts %+v", s.Options)
				}
				if s.Foreground || s.Fake || s.LogLevel != "INFO" {
					t.Errorf("spec %+v", s)
				}
			},
		},
		{
			name: "port, leading slash, several hosts",
			args: "a:7000,b,[::1]:7001:/vol.1 /m",
			check: func(t *testing.T, s MountSpec) {
				want := []Server{srv("a", 7000), srv("b", DefaultPort), srv("::1", 7001)}
				if !reflect.DeepEqual(s.Servers, want) || s.Volume != "vol.1" {
					t.Errorf("servers %v volume %q", s.Servers, s.Volume)
				}
				if got := s.Servers[2].String(); got != "[::1]:7001" {
					t.Errorf("String %q", got)
				}
			},
		},
		{
			name: "backup-volfile-servers list with ports",
			args: "h1:6000:v /m -o backup-volfile-servers=h2:h3:7000:[fe80::1]:h1:6000",
			check: func(t *testing.T, s MountSpec) {
				want := []Server{srv("h1", 6000), srv("h2", DefaultPort), srv("h3", 7000), srv("fe80::1", DefaultPort)}
				if !reflect.DeepEqual(s.Servers, want) {
					t.Errorf("servers %v, want %v (duplicates removed)", s.Servers, want)
				}
			},
		},
		{
			name: "timeouts, zero allowed, fractions",
			args: "h:v /m -o entry-timeout=0,attribute-timeout=2.5,negative-timeout=10",
			check: func(t *testing.T, s MountSpec) {
				if s.Options.EntryTimeout != 0 || s.Options.AttrTimeout != 2500*time.Millisecond || s.Options.NegativeTimeout != 10*time.Second {
					t.Errorf("timeouts %+v", s.Options)
				}
			},
		},
		{
			name: "cairn mount flags, options before positionals, several -o",
			args: "--foreground --log-file /var/log/c.log --log-level=debug -o ro -odirect-io-mode=enable,default_permissions,allow_other h:v /m",
			check: func(t *testing.T, s MountSpec) {
				if !s.Foreground || s.LogFile != "/var/log/c.log" || s.LogLevel != "DEBUG" {
					t.Errorf("spec %+v", s)
				}
				o := s.Options
				if !o.ReadOnly || o.DirectIO != DirectIOEnable || !o.DefaultPermissions || !o.AllowOther {
					t.Errorf("options %+v", o)
				}
			},
		},
		{
			name: "log options in -o, last wins for ro/rw and atime",
			args: "h:v /m -o ro,rw,noatime,atime,log-file=/tmp/x,log-level=WARN",
			check: func(t *testing.T, s MountSpec) {
				if s.Options.ReadOnly || s.Options.NoAtime || s.LogFile != "/tmp/x" || s.LogLevel != "WARNING" {
					t.Errorf("spec %+v", s)
				}
			},
		},
		{
			name: "generic mount(8) options accepted silently",
			args: "h:v /m -o defaults,_netdev,auto,noauto,user,nouser,nofail,exec,noexec,suid,nosuid,dev,nodev,x-systemd.automount,x-systemd.requires=network-online.target,comment=x",
			check: func(t *testing.T, s MountSpec) {
				if !s.Options.NoExec || s.Options.Suid || s.Options.Dev {
					t.Errorf("options %+v", s.Options)
				}
				if len(s.Ignored) != 10 {
					t.Errorf("ignored %v", s.Ignored)
				}
			},
		},
		{
			name: "mount(8) helper flags",
			args: "h:v /m -sfnv -t cairn -o bogus",
			check: func(t *testing.T, s MountSpec) {
				if !s.Sloppy || !s.Fake || !s.NoMtab || !s.Verbose {
					t.Errorf("spec %+v", s)
				}
				if !reflect.DeepEqual(s.Ignored, []string{"bogus"}) {
					t.Errorf("sloppy should ignore bogus: %v", s.Ignored)
				}
			},
		},
		{
			name: "--volfile without SPEC",
			args: "--volfile /etc/cairn/web_sites.vol /m",
			check: func(t *testing.T, s MountSpec) {
				if s.VolfilePath != "/etc/cairn/web_sites.vol" || s.Mountpoint != "/m" || len(s.Servers) != 0 {
					t.Errorf("spec %+v", s)
				}
			},
		},
		{
			name: "direct-io-mode synonyms",
			args: "h:v /m -o direct-io-mode=on,fopen-keep-cache=off",
			check: func(t *testing.T, s MountSpec) {
				if s.Options.DirectIO != DirectIOEnable || !s.Options.NoKeepCache {
					t.Errorf("options %+v", s.Options)
				}
			},
		},
		{name: "unknown option", args: "h:v /m -o noatime,frobnicate=1", wantErr: `unknown mount option "frobnicate=1"; valid options: acl, allow_other, atime, attribute-timeout=SECONDS, backup-volfile-servers=`},
		{name: "unknown option lists generics", args: "h:v /m -o bogus", wantErr: "_netdev"},
		{name: "bad direct-io", args: "h:v /m -o direct-io-mode=sometimes", wantErr: "direct-io-mode=sometimes: want enable or disable"},
		{name: "empty direct-io", args: "h:v /m -o direct-io-mode=", wantErr: "want enable or disable"},
		{name: "missing value", args: "h:v /m -o entry-timeout", wantErr: `"entry-timeout" needs a value`},
		{name: "unexpected value", args: "h:v /m -o noatime=1", wantErr: `"noatime" takes no value`},
		{name: "negative timeout", args: "h:v /m -o attribute-timeout=-1", wantErr: "attribute-timeout=-1"},
		{name: "nan timeout", args: "h:v /m -o attribute-timeout=NaN", wantErr: "attribute-timeout=NaN"},
		{
			name: "TRACE logs FUSE requests",
			args: "h:v /m -o log-level=trace",
			check: func(t *testing.T, s MountSpec) {
				if s.LogLevel != "TRACE" || !s.Options.Debug {
					t.Errorf("spec %+v", s)
				}
			},
		},
		{name: "bad log level", args: "h:v /m -o log-level=loud", wantErr: "log-level \"loud\""},
		{name: "no volume", args: "brick1 /m", wantErr: "want HOST[:PORT]:VOLUME"},
		{name: "empty volume", args: "brick1: /m", wantErr: "empty volume name"},
		{name: "bad volume char", args: "brick1:a/b /m", wantErr: "not allowed"},
		{name: "bad port", args: "brick1:99999:v /m", wantErr: "port must be 1-65535"},
		{name: "port not number", args: "brick1:x:v /m", wantErr: "port must be 1-65535"},
		{name: "v6 without brackets", args: "fe80::1:v /m", wantErr: "brackets"},
		{name: "bad backup server", args: "h:v /m -o backupvolfile-server=a:b", wantErr: "backupvolfile-server"},
		{name: "one positional", args: "h:v", wantErr: "need a volume"},
		{name: "three positionals", args: "h:v /m extra", wantErr: "too many arguments"},
		{name: "unknown flag", args: "h:v /m -x", wantErr: "unknown flag -x"},
		{name: "unknown long flag", args: "h:v /m --daemon", wantErr: "unknown flag --daemon"},
		{name: "wrong type", args: "h:v /m -t nfs", wantErr: "-t nfs"},
		{name: "-o without value", args: "h:v /m -o", wantErr: "-o needs a value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseMountArgs(strings.Fields(tc.args))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestParseMountArgsHelp(t *testing.T) {
	for _, a := range []string{"-h", "--help"} {
		if _, err := ParseMountArgs([]string{a}); !errors.Is(err, ErrHelp) {
			t.Errorf("%s: %v", a, err)
		}
	}
}

func TestValidOptionsListed(t *testing.T) {
	l := strings.Join(ValidOptions(), " ")
	for _, want := range []string{"backupvolfile-server=HOST[:PORT]", "direct-io-mode=enable|disable", "noatime", "ro", "rw",
		"log-file=FILE", "log-level=LEVEL", "entry-timeout=SECONDS", "attribute-timeout=SECONDS", "negative-timeout=SECONDS",
		"default_permissions", "allow_other", "fopen-keep-cache[=on|off]"} {
		if !strings.Contains(" "+l+" ", " "+want+" ") {
			t.Errorf("ValidOptions lacks %q: %s", want, l)
		}
	}
}

func TestMountFlags(t *testing.T) {
	const nosuidNodev = 0x2 | 0x4
	o := DefaultOptions()
	if got := o.mountFlags(); got != nosuidNodev {
		t.Errorf("default flags %#x", got)
	}
	o.ReadOnly, o.NoAtime, o.Suid, o.Dev = true, true, true, true
	if got := o.mountFlags(); got != 0x1|0x400 {
		t.Errorf("ro,noatime,suid,dev flags %#x", got)
	}
}
