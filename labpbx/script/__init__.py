"""The routing-script language: an OpenSIPS 2.4 subset. Pure: grammar → AST → compiled closures."""
