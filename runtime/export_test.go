package runtime

// SetArenaMode makes sessions created until the returned function is called
// use the given arena mode ("off", "poison" or "" for plain recycling).
func SetArenaMode(mode string) (restore func()) {
	old := arenaMode
	arenaMode = mode
	return func() { arenaMode = old }
}
