// ChronoRoles
