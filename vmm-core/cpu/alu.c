/* placeholder: being written (software CPU, part 1) */
