package engine

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// pollFD is one watched socket in the poll set.
type pollFD = unix.PollFd

func newPollFD(fd int) pollFD {
	return unix.PollFd{Fd: int32(fd), Events: unix.POLLRDHUP}
}

// descriptor is p's file descriptor, or its state before the lookup
// (youngFD, unknownFD, notSocket).
func descriptor(p *pollFD) int { return int(p.Fd) }

// hungUp polls fds without waiting; each one's revents says how it is.
func hungUp(fds []pollFD) {
	for i := range fds {
		fds[i].Revents = 0
	}
	for {
		if _, err := unix.Poll(fds, 0); err != unix.EINTR {
			return
		}
	}
}

// gone reports whether the peer hung up: its FIN (POLLRDHUP, set even
// when unread bytes wait before it), a reset, or a descriptor gone bad.
func gone(p *pollFD) bool {
	return p.Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
}

// socketFD is the file descriptor of a client socket.
func socketFD(conn net.Conn) (int, bool) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	fd := -1
	if rc.Control(func(f uintptr) { fd = int(f) }) != nil || fd < 0 {
		return 0, false
	}
	return fd, true
}
