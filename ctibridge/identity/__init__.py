"""Who is on the other end of a widget socket: the verifiers that turn a credential into a Principal."""
