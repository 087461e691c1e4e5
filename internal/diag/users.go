package diag

import (
	"os/user"
	"strconv"
	"sync"
)

// userCache looks users up by uid once per scan: a picker's list shows
// the same few users many times.
type userCache struct {
	mu   sync.Mutex
	byID map[int]*user.User // nil for a uid without an entry
}

func newUserCache() *userCache {
	return &userCache{byID: map[int]*user.User{}}
}

func (c *userCache) lookup(uid int) *user.User {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.byID[uid]
	if !ok {
		u, _ = user.LookupId(strconv.Itoa(uid)) // a uid without an entry is shown as a number
		c.byID[uid] = u
	}
	return u
}

// name returns the login name of uid, or the uid as a string when it has none.
func (c *userCache) name(uid int) string {
	if u := c.lookup(uid); u != nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// home returns the home directory of uid, "" if unknown.
func (c *userCache) home(uid int) string {
	if u := c.lookup(uid); u != nil {
		return u.HomeDir
	}
	return ""
}
