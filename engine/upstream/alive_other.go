//go:build !unix

package upstream

import "net"

// alive cannot peek at a socket here; every idle connection counts as
// usable, as fasthttp alone would have it.
func alive(net.Conn) bool { return true }
