/* cmd_csv2xml.h - the `stockcam csv2xml` command. */
#ifndef SC_CMD_CSV2XML_H
#define SC_CMD_CSV2XML_H

/* argv[0] is "csv2xml". Returns the exit status. */
int	cmd_csv2xml_main(int argc, char **argv);

#endif
