// ChronoClient
