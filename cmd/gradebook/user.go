package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/gradebook/gradebook/portal/auth"
)

// maxPasswordLine bounds what "user hash" reads: bcrypt uses at most 72 bytes of a password.
const maxPasswordLine = 4096

// userCommand runs "gradebook user hash NAME": it reads a password from the first line of stdin
// and prints the users file line NAME:<bcrypt hash>.
func userCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	const usage = `Usage: gradebook user hash NAME

Reads a password from the first line of standard input and prints the line for the portal's
-users file: NAME:<bcrypt hash>. For example:

  read -rs PASSWORD && echo "$PASSWORD" | gradebook user hash alice >> users.txt
`
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if len(args) != 2 || args[0] != "hash" {
		fmt.Fprint(stderr, usage)
		return errors.New(`want "gradebook user hash NAME"`)
	}
	name := args[1]
	if err := auth.CheckName(name); err != nil {
		return err
	}
	line, err := bufio.NewReaderSize(io.LimitReader(stdin, maxPasswordLine), maxPasswordLine).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the password from standard input: %w", err)
	}
	if len(line) == maxPasswordLine && line[len(line)-1] != '\n' {
		return fmt.Errorf("the password line is longer than %d bytes", maxPasswordLine)
	}
	hash, err := auth.HashPassword([]byte(line))
	if errors.Is(err, auth.ErrEmptyPassword) {
		return errors.New("the password on standard input is empty: refusing to hash it")
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s:%s\n", name, hash)
	return err
}
