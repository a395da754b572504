/* cmd_client.h - the command-line client: submit, watch, list, fetch. */
#ifndef SC_CMD_CLIENT_H
#define SC_CMD_CLIENT_H

/* 1 if name is one of the client's commands (submit, jobs, ...). */
int	cmd_client_is_command(const char *name);
/* argv[0] is the command. Returns the exit status. */
int	cmd_client_main(int argc, char **argv);

#endif
