package nfs

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"github.com/cairnfs/cairn/vfs"
)

// File handle layout (HandleSize bytes, a multiple of 4 because the Linux
// client mishandles other lengths — see rclone's serve nfs notes):
//
//	[0]      format version (handleVersion)
//	[1:4]    reserved, zero
//	[4:12]   volume id
//	[12:28]  GFID
//
// The handle is computed from the volume id and the GFID alone, so it needs
// no state on the gateway: it stays valid across gateway restarts, and any
// other gateway serving the same volume decodes it the same way. Whether
// the file still exists is asked of the volume (a vanished GFID gives
// NFS3ERR_STALE).
const (
	HandleSize    = 28
	handleVersion = 1
)

// VolumeID is the 8-byte id that file handles carry so that a handle of
// one volume is never taken for a file of another.
type VolumeID [8]byte

// VolumeIDOf derives a volume's id from its name. Every gateway serving
// the volume computes the same id, which is what lets a client fail over
// between gateways with its handles intact.
func VolumeIDOf(name string) VolumeID {
	sum := sha256.Sum256([]byte("cairn volume id\x00" + name))
	var id VolumeID
	copy(id[:], sum[:8])
	return id
}

// fsid is the NFS fsid reported in attributes.
func (v VolumeID) fsid() uint64 { return binary.BigEndian.Uint64(v[:]) }

// Handle-decoding failures, mapped to NFS3ERR_BADHANDLE and NFS3ERR_STALE.
var (
	errBadHandle   = errors.New("nfs: malformed file handle")
	errOtherVolume = errors.New("nfs: file handle of another volume")
)

// EncodeHandle builds the handle of gfid in volume vol.
func EncodeHandle(vol VolumeID, gfid vfs.GFID) []byte {
	h := make([]byte, HandleSize)
	h[0] = handleVersion
	copy(h[4:12], vol[:])
	copy(h[12:], gfid[:])
	return h
}

// DecodeHandle splits a handle into its volume id and GFID. It never
// panics; any malformed handle gives errBadHandle.
func DecodeHandle(h []byte) (VolumeID, vfs.GFID, error) {
	var vol VolumeID
	var g vfs.GFID
	if len(h) != HandleSize || h[0] != handleVersion || h[1] != 0 || h[2] != 0 || h[3] != 0 {
		return vol, g, errBadHandle
	}
	copy(vol[:], h[4:12])
	copy(g[:], h[12:])
	if g.IsZero() {
		return vol, g, errBadHandle
	}
	return vol, g, nil
}
