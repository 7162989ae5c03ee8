package client

import (
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultPort is where a brick's protocol/server listens, and so where
// mounts fetch client volfiles from when SPEC names no port.
const DefaultPort = 6996

// Server is a volfile server (a brick's protocol/server).
type Server struct {
	Host string
	Port int
}

// String is host:port, with brackets around IPv6 addresses; it is what
// net.Dial and grpc.NewClient accept.
func (s Server) String() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// MountSpec is a parsed `mount.cairn SPEC DIR -o OPTS` or
// `cairn mount SPEC DIR -o OPTS` command line.
type MountSpec struct {
	// Source is SPEC as given (shown as the mount's source in /proc/mounts).
	Source string
	// Servers are the volfile servers in the order to try them: those of
	// SPEC, then backupvolfile-server / backup-volfile-servers.
	Servers []Server
	// Volume is the volume name: the client volfile the server is asked
	// for (its protocol/server option volume-filename.VOLUME).
	Volume string
	// VolfilePath, from --volfile FILE, replaces fetching: SPEC may then be
	// omitted.
	VolfilePath string
	Mountpoint  string

	// Options for Mount, from -o.
	Options Options

	// LogFile and LogLevel are log-file= / log-level= (or --log-file,
	// --log-level); LogLevel is upper case, one of LogLevels.
	LogFile  string
	LogLevel string

	// MetricsAddr (metrics=ADDR) is where the mount serves Prometheus
	// /metrics of its stack's debug/io-stats volumes; empty: nowhere.
	MetricsAddr string

	// Foreground (--foreground, --no-daemon): do not daemonize.
	Foreground bool
	// Flags mount(8) passes to helpers: -f (fake: do everything but the
	// mount), -n (no mtab), -s (sloppy: ignore unknown options), -v.
	Fake, NoMtab, Sloppy, Verbose bool

	// Ignored lists the options accepted without effect (generic mount(8)
	// options such as _netdev, x-systemd.*), for logging.
	Ignored []string
}

// LogLevels are the accepted log-level= values (GlusterFS's names).
var LogLevels = []string{"TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "NONE"}

// ErrHelp is returned by ParseMountArgs for -h / --help.
var ErrHelp = errors.New("help requested")

// MountUsage describes the command line ParseMountArgs accepts.
const MountUsage = `usage: mount.cairn HOST[:PORT]:VOLUME DIR [-o OPTIONS] [-fnsv]
       cairn mount HOST[:PORT]:VOLUME DIR [-o OPTIONS] [--foreground] [--log-file FILE] [--log-level LEVEL]
       cairn mount --volfile FILE DIR [-o OPTIONS] ...

HOST may be a comma-separated list of volfile servers, tried in order.
PORT defaults to 6996 (a brick's protocol/server).
Once mounted, the process adds to GOMAXPROCS one P per goroutine go-fuse
keeps waiting on /dev/fuse (2 CPUs: 4 Ps), unless GOMAXPROCS is set.`

// ParseMountArgs parses the arguments of mount.cairn (as mount(8) calls it:
// SPEC DIR [-sfnv] [-o OPTIONS] [-t TYPE]) or of `cairn mount`, which adds
// --volfile, --foreground, --log-file and --log-level. Options and flags may
// come before or after the positional arguments.
func ParseMountArgs(args []string) (MountSpec, error) {
	spec := MountSpec{Options: DefaultOptions(), LogLevel: "INFO"}
	var positional, optStrings []string
	value := func(i *int, name string) (string, error) {
		if *i+1 >= len(args) {
			return "", fmt.Errorf("%s needs a value", name)
		}
		*i++
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		if strings.HasPrefix(a, "--") {
			name, val, hasVal := strings.Cut(a[2:], "=")
			var err error
			switch name {
			case "help":
				return spec, ErrHelp
			case "foreground", "no-daemon":
				if hasVal {
					return spec, fmt.Errorf("--%s takes no value", name)
				}
				spec.Foreground = true
				continue
			case "volfile", "log-file", "log-level", "options":
				if !hasVal {
					if val, err = value(&i, "--"+name); err != nil {
						return spec, err
					}
				}
			default:
				return spec, fmt.Errorf("unknown flag --%s\n%s", name, MountUsage)
			}
			switch name {
			case "volfile":
				spec.VolfilePath = val
			case "log-file":
				spec.LogFile = val
			case "log-level":
				if spec.LogLevel, err = parseLogLevel(val); err != nil {
					return spec, err
				}
				spec.Options.Debug = spec.LogLevel == "TRACE"
			case "options":
				optStrings = append(optStrings, val)
			}
			continue
		}
		// Short flags, possibly clustered (-fn) or with an attached value
		// (-oro,noatime).
		for j := 1; j < len(a); j++ {
			switch c := a[j]; c {
			case 'f':
				spec.Fake = true
			case 'n':
				spec.NoMtab = true
			case 's':
				spec.Sloppy = true
			case 'v':
				spec.Verbose = true
			case 'h':
				return spec, ErrHelp
			case 'o', 't', 'N':
				v := a[j+1:]
				if v == "" {
					var err error
					if v, err = value(&i, "-"+string(c)); err != nil {
						return spec, err
					}
				}
				switch c {
				case 'o':
					optStrings = append(optStrings, v)
				case 't':
					if v != "cairn" && v != "fuse.cairn" {
						return spec, fmt.Errorf("-t %s: this helper mounts type cairn", v)
					}
				case 'N':
					return spec, fmt.Errorf("-N %s: mount namespaces are not supported", v)
				}
				j = len(a)
			default:
				return spec, fmt.Errorf("unknown flag -%c\n%s", c, MountUsage)
			}
		}
	}

	switch {
	case len(positional) == 2:
		spec.Source, spec.Mountpoint = positional[0], positional[1]
	case len(positional) == 1 && spec.VolfilePath != "":
		spec.Mountpoint = positional[0]
	case len(positional) < 2:
		return spec, fmt.Errorf("need a volume (HOST[:PORT]:VOLUME) and a mount point\n%s", MountUsage)
	default:
		return spec, fmt.Errorf("too many arguments: %q\n%s", positional[2:], MountUsage)
	}
	if spec.Mountpoint == "" {
		return spec, errors.New("empty mount point")
	}
	if spec.Source != "" {
		servers, vol, err := ParseSource(spec.Source)
		if err != nil {
			return spec, err
		}
		spec.Servers, spec.Volume = servers, vol
		spec.Options.FsName = spec.Source
	} else {
		spec.Options.FsName = spec.VolfilePath
	}
	for _, s := range optStrings {
		if err := spec.applyOptions(s); err != nil {
			return spec, err
		}
	}
	spec.Servers = dedupServers(spec.Servers)
	return spec, nil
}

// ParseSource parses SPEC: HOSTS:VOLUME, where HOSTS is a comma-separated
// list of HOST[:PORT] and VOLUME may carry a leading "/" (GlusterFS's
// host:/volume form). IPv6 addresses are written in brackets.
func ParseSource(src string) ([]Server, string, error) {
	i := strings.LastIndexByte(src, ':')
	if i < 0 || strings.LastIndexByte(src, ']') > i {
		return nil, "", fmt.Errorf("volume %q: want HOST[:PORT]:VOLUME", src)
	}
	hosts, vol := src[:i], strings.TrimPrefix(src[i+1:], "/")
	if err := checkVolumeName(vol); err != nil {
		return nil, "", fmt.Errorf("volume %q: %w", src, err)
	}
	var servers []Server
	for _, h := range strings.Split(hosts, ",") {
		s, err := parseServer(h)
		if err != nil {
			return nil, "", fmt.Errorf("volume %q: %w", src, err)
		}
		servers = append(servers, s)
	}
	return servers, vol, nil
}

// checkVolumeName accepts GlusterFS's volume names: letters, digits, '-',
// '_' and '.', not starting with '-'.
func checkVolumeName(v string) error {
	if v == "" {
		return errors.New("empty volume name")
	}
	if len(v) > 255 {
		return errors.New("volume name longer than 255 bytes")
	}
	if v[0] == '-' {
		return fmt.Errorf("volume name %q starts with '-'", v)
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("volume name %q: character %q not allowed", v, c)
		}
	}
	return nil
}

// parseServer parses HOST, HOST:PORT, [V6ADDR] or [V6ADDR]:PORT.
func parseServer(s string) (Server, error) {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return Server{}, fmt.Errorf("server %q: missing ']'", s)
		}
		host, port = s[1:end], s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return Server{}, fmt.Errorf("server %q: junk after ']'", s)
			}
			port = port[1:]
			if port == "" {
				return Server{}, fmt.Errorf("server %q: empty port", s)
			}
		}
	} else if h, p, ok := strings.Cut(s, ":"); ok {
		if strings.Contains(p, ":") {
			return Server{}, fmt.Errorf("server %q: write IPv6 addresses in brackets, as [addr]:port", s)
		}
		host, port = h, p
		if port == "" {
			return Server{}, fmt.Errorf("server %q: empty port", s)
		}
	}
	if host == "" {
		return Server{}, fmt.Errorf("server %q: empty host", s)
	}
	if strings.ContainsAny(host, " \t/,@") {
		return Server{}, fmt.Errorf("server %q: bad host name", s)
	}
	p := DefaultPort
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return Server{}, fmt.Errorf("server %q: port must be 1-65535", s)
		}
		p = n
	}
	return Server{Host: host, Port: p}, nil
}

// parseServerList parses GlusterFS's backup-volfile-servers=A:B:C. A purely
// numeric element is the port of the host before it (A:7000:B), and IPv6
// addresses are in brackets.
func parseServerList(v string) ([]Server, error) {
	var servers []Server
	for rest := v; rest != ""; {
		var tok string
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("%q: missing ']'", v)
			}
			tok, rest = rest[:end+1], rest[end+1:]
			if rest != "" && rest[0] != ':' {
				return nil, fmt.Errorf("%q: junk after ']'", v)
			}
		} else {
			i := strings.IndexByte(rest, ':')
			if i < 0 {
				i = len(rest)
			}
			tok, rest = rest[:i], rest[i:]
		}
		rest = strings.TrimPrefix(rest, ":")
		if tok == "" {
			return nil, fmt.Errorf("%q: empty server name", v)
		}
		if n, err := strconv.Atoi(tok); err == nil && len(servers) > 0 {
			if n < 1 || n > 65535 {
				return nil, fmt.Errorf("%q: port %d out of range", v, n)
			}
			servers[len(servers)-1].Port = n
			continue
		}
		s, err := parseServer(tok)
		if err != nil {
			return nil, err
		}
		servers = append(servers, s)
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("%q: no servers", v)
	}
	return servers, nil
}

func dedupServers(in []Server) []Server {
	seen := map[Server]bool{}
	var out []Server
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func parseLogLevel(v string) (string, error) {
	u := strings.ToUpper(v)
	if u == "WARN" {
		u = "WARNING"
	}
	for _, l := range LogLevels {
		if u == l {
			return u, nil
		}
	}
	return "", fmt.Errorf("log-level %q: want one of %s", v, strings.Join(LogLevels, ", "))
}

func parseSeconds(name, v string) (time.Duration, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e9 {
		return 0, fmt.Errorf("%s=%s: want a number of seconds ≥ 0", name, v)
	}
	return time.Duration(f * float64(time.Second)), nil
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "on", "yes", "true", "1", "enable":
		return true, nil
	case "off", "no", "false", "0", "disable":
		return false, nil
	}
	return false, fmt.Errorf("%s=%s: want on or off", name, v)
}

// mountOption is one -o option cairn understands.
type mountOption struct {
	// arg names the value in help text; "" means the option takes none,
	// and a "[=…]" form means the value is optional.
	arg   string
	apply func(s *MountSpec, name, val string) error
}

func flagOpt(set func(*MountSpec)) mountOption {
	return mountOption{apply: func(s *MountSpec, _, _ string) error { set(s); return nil }}
}

func secondsOpt(set func(*Options, time.Duration)) mountOption {
	return mountOption{arg: "SECONDS", apply: func(s *MountSpec, name, v string) error {
		d, err := parseSeconds(name, v)
		if err == nil {
			set(&s.Options, d)
		}
		return err
	}}
}

var mountOptions = map[string]mountOption{
	"backupvolfile-server": {arg: "HOST[:PORT]", apply: func(s *MountSpec, name, v string) error {
		srv, err := parseServer(v)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.Servers = append(s.Servers, srv)
		return nil
	}},
	"backup-volfile-servers": {arg: "HOST[:HOST...]", apply: func(s *MountSpec, name, v string) error {
		l, err := parseServerList(v)
		if err != nil {
			return fmt.Errorf("%s=%w", name, err)
		}
		s.Servers = append(s.Servers, l...)
		return nil
	}},
	"direct-io-mode": {arg: "enable|disable", apply: func(s *MountSpec, name, v string) error {
		if strings.EqualFold(v, "auto") {
			s.Options.DirectIO = DirectIODisable
			return nil
		}
		on, err := parseBool(name, v)
		if err != nil || v == "" {
			return fmt.Errorf("%s=%s: want enable or disable", name, v)
		}
		s.Options.DirectIO = DirectIODisable
		if on {
			s.Options.DirectIO = DirectIOEnable
		}
		return nil
	}},
	"fopen-keep-cache": {arg: "[=on|off]", apply: func(s *MountSpec, name, v string) error {
		on, err := parseBool(name, v)
		s.Options.NoKeepCache = !on
		return err
	}},
	"entry-timeout":     secondsOpt(func(o *Options, d time.Duration) { o.EntryTimeout = d }),
	"attribute-timeout": secondsOpt(func(o *Options, d time.Duration) { o.AttrTimeout = d }),
	"negative-timeout":  secondsOpt(func(o *Options, d time.Duration) { o.NegativeTimeout = d }),
	"log-file": {arg: "FILE", apply: func(s *MountSpec, name, v string) error {
		if v == "" {
			return fmt.Errorf("%s: empty file name", name)
		}
		s.LogFile = v
		return nil
	}},
	"metrics": {arg: "ADDR", apply: func(s *MountSpec, name, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("%s=%s: want HOST:PORT (%v)", name, v, err)
		}
		s.MetricsAddr = v
		return nil
	}},
	"log-level": {arg: "LEVEL", apply: func(s *MountSpec, _, v string) error {
		l, err := parseLogLevel(v)
		s.LogLevel = l
		// TRACE adds go-fuse's log of every FUSE request and reply.
		s.Options.Debug = l == "TRACE"
		return err
	}},
	"ro":                  flagOpt(func(s *MountSpec) { s.Options.ReadOnly = true }),
	"rw":                  flagOpt(func(s *MountSpec) { s.Options.ReadOnly = false }),
	"noatime":             flagOpt(func(s *MountSpec) { s.Options.NoAtime = true }),
	"atime":               flagOpt(func(s *MountSpec) { s.Options.NoAtime = false }),
	"nodiratime":          flagOpt(func(s *MountSpec) { s.Options.NoDirAtime = true }),
	"diratime":            flagOpt(func(s *MountSpec) { s.Options.NoDirAtime = false }),
	"relatime":            flagOpt(func(s *MountSpec) { s.Options.RelAtime = true }),
	"norelatime":          flagOpt(func(s *MountSpec) { s.Options.RelAtime = false }),
	"strictatime":         flagOpt(func(s *MountSpec) { s.Options.StrictAtime = true }),
	"default_permissions": flagOpt(func(s *MountSpec) { s.Options.DefaultPermissions = true }),
	"acl":                 flagOpt(func(s *MountSpec) { s.Options.ACL = true }),
	"selinux":             flagOpt(func(s *MountSpec) { s.Options.SELinux = true }),
	"allow_other":         flagOpt(func(s *MountSpec) { s.Options.AllowOther = true }),
	"exec":                flagOpt(func(s *MountSpec) { s.Options.NoExec = false }),
	"noexec":              flagOpt(func(s *MountSpec) { s.Options.NoExec = true }),
	"suid":                flagOpt(func(s *MountSpec) { s.Options.Suid = true }),
	"nosuid":              flagOpt(func(s *MountSpec) { s.Options.Suid = false }),
	"dev":                 flagOpt(func(s *MountSpec) { s.Options.Dev = true }),
	"nodev":               flagOpt(func(s *MountSpec) { s.Options.Dev = false }),
}

// ignoredOptions are generic options that mount(8) and fstab use and pass
// on to helpers, which have no meaning for cairn itself.
var ignoredOptions = map[string]bool{
	"defaults": true, "_netdev": true, "auto": true, "noauto": true,
	"user": true, "nouser": true, "users": true, "owner": true, "group": true,
	"nofail": true, "async": true, "loud": true, "silent": true,
}

// ignoredPrefixes are userspace option families (x-systemd.automount,
// x-mount.mkdir, comment=systemd.…) that mount(8) may pass on.
var ignoredPrefixes = []string{"x-", "comment="}

// ValidOptions lists the -o options cairn understands, for help and errors.
func ValidOptions() []string {
	var l []string
	for name, o := range mountOptions {
		switch {
		case o.arg == "":
			l = append(l, name)
		case strings.HasPrefix(o.arg, "["):
			l = append(l, name+o.arg)
		default:
			l = append(l, name+"="+o.arg)
		}
	}
	sort.Strings(l)
	return l
}

// applyOptions applies one comma-separated -o string.
func (s *MountSpec) applyOptions(opts string) error {
	for _, o := range strings.Split(opts, ",") {
		if o == "" {
			continue
		}
		name, val, hasVal := strings.Cut(o, "=")
		if ignoredOptions[name] && !hasVal {
			s.Ignored = append(s.Ignored, o)
			continue
		}
		ignored := false
		for _, p := range ignoredPrefixes {
			if strings.HasPrefix(o, p) {
				ignored = true
			}
		}
		if ignored {
			s.Ignored = append(s.Ignored, o)
			continue
		}
		spec, ok := mountOptions[name]
		if !ok {
			if s.Sloppy {
				s.Ignored = append(s.Ignored, o)
				continue
			}
			return fmt.Errorf("unknown mount option %q; valid options: %s (and the generic defaults, _netdev, auto, noauto, user, nouser, nofail, x-*)",
				o, strings.Join(ValidOptions(), ", "))
		}
		switch {
		case spec.arg == "" && hasVal:
			return fmt.Errorf("mount option %q takes no value", name)
		case spec.arg != "" && !strings.HasPrefix(spec.arg, "[") && !hasVal:
			return fmt.Errorf("mount option %q needs a value: %s=%s", name, name, spec.arg)
		}
		if err := spec.apply(s, name, val); err != nil {
			return err
		}
	}
	return nil
}
