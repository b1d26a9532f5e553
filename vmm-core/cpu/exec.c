/* The interpreter's run loop: being written. */
