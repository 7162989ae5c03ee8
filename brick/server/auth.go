package server

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"strings"
)

// AuthRules are a subvolume's address rules, GlusterFS's
// auth.addr.<subvol>.allow and auth.addr.<subvol>.reject. Each entry is an
// IP address, a shell wildcard over the address's text ("*", "192.168.*",
// "10.0.?.1", "fe80::*"), or a CIDR prefix ("10.0.0.0/8", "fd00::/8").
//
// A peer is refused when it matches any Reject entry (reject wins), else
// accepted when it matches any Allow entry, else refused. In particular a
// subvolume with no Allow entry refuses everybody, as GlusterFS 3.x, whose
// server would not even start without an auth option for each subvolume;
// New logs a warning for such subvolumes. Host names are not resolved:
// an entry that is a name matches no address.
type AuthRules struct {
	Allow  []string
	Reject []string
}

// ParseAuthList splits a volfile option value ("a,b, c") into entries.
func ParseAuthList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ParseAuthOptions collects the auth.addr.<subvol>.allow/.reject options of a
// protocol/server volfile section into Config.Auth. Options that are not
// auth.addr.* are ignored; malformed auth.addr.* keys are errors.
func ParseAuthOptions(opts map[string]string) (map[string]AuthRules, error) {
	out := map[string]AuthRules{}
	for k, v := range opts {
		rest, ok := strings.CutPrefix(k, "auth.addr.")
		if !ok {
			continue
		}
		i := strings.LastIndexByte(rest, '.')
		if i <= 0 {
			return nil, fmt.Errorf("option %s: want auth.addr.<subvolume>.allow or .reject", k)
		}
		name, which := rest[:i], rest[i+1:]
		r := out[name]
		switch which {
		case "allow":
			r.Allow = append(r.Allow, ParseAuthList(v)...)
		case "reject":
			r.Reject = append(r.Reject, ParseAuthList(v)...)
		default:
			return nil, fmt.Errorf("option %s: want auth.addr.%s.allow or auth.addr.%s.reject", k, name, name)
		}
		out[name] = r
	}
	return out, nil
}

// matcher is one compiled auth entry.
type matcher struct {
	text   string
	prefix netip.Prefix // valid for CIDR entries
}

func compilePatterns(opt string, entries []string) ([]matcher, error) {
	ms := make([]matcher, 0, len(entries))
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		m := matcher{text: e}
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("option %s: %q is not a CIDR prefix: %v", opt, e, err)
			}
			m.prefix = p.Masked()
		} else if _, err := path.Match(e, ""); err != nil {
			return nil, fmt.Errorf("option %s: bad wildcard %q: %v", opt, e, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// match reports whether the peer (ip, when valid; its address text
// otherwise) matches m.
func (m *matcher) match(ip netip.Addr, text string) bool {
	if m.prefix.IsValid() {
		return ip.IsValid() && m.prefix.Contains(ip)
	}
	ok, _ := path.Match(m.text, text)
	return ok
}

func matchAny(ms []matcher, ip netip.Addr, text string) bool {
	for i := range ms {
		if ms[i].match(ip, text) {
			return true
		}
	}
	return false
}

// peerIP extracts the address a peer is matched by: the unmapped IP of a
// TCP peer; other transports have none and match only pure wildcards.
func peerIP(a net.Addr) (netip.Addr, string) {
	if a == nil {
		return netip.Addr{}, "unknown"
	}
	if t, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(t.IP); ok {
			ip = ip.Unmap().WithZone("")
			return ip, ip.String()
		}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip := ap.Addr().Unmap().WithZone("")
		return ip, ip.String()
	}
	return netip.Addr{}, a.String()
}

// authorize returns "" when the peer may use sv, or the reason it may not.
func (sv *subvol) authorize(ip netip.Addr, text string) string {
	switch {
	case matchAny(sv.reject, ip, text):
		return fmt.Sprintf("rejected by auth.addr.%s.reject", sv.name)
	case len(sv.allow) == 0:
		return fmt.Sprintf("no auth.addr.%s.allow is configured, so every client is refused", sv.name)
	case !matchAny(sv.allow, ip, text):
		return fmt.Sprintf("not allowed by auth.addr.%s.allow", sv.name)
	}
	return ""
}
