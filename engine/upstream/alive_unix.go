//go:build unix

package upstream

import (
	"net"
	"syscall"
)

// alive reports whether an idle connection can still carry a request:
// nothing is waiting to be read on it (an idle HTTP/1.1 connection gets
// no bytes; a FIN, a reset or stray data all mean it is done). It peeks
// without blocking; a connection that cannot be inspected counts as
// alive.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	ok = true
	var b [1]byte
	// rc.Read does not call f when the socket's read deadline has passed;
	// that says nothing about the connection, so it stays alive then.
	_ = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK || rerr == syscall.EINTR
		return true // never wait for readiness
	})
	return ok
}
