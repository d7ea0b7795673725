"""Business logic. Services take settings and ports as arguments; they never read os.environ."""
