//go:build !linux

package engine

import "net"

// pollFD is unused here: without POLLRDHUP no client socket is watched,
// and an upstream call outlives its client as fasthttp alone has it.
type pollFD struct{}

func newPollFD(int) pollFD { return pollFD{} }

func descriptor(*pollFD) int { return notSocket }

func hungUp([]pollFD) {}

func gone(*pollFD) bool { return false }

func socketFD(net.Conn) (int, bool) { return 0, false }
