"""What tests/test_docs.py needs to run the user docs' commands: the fenced blocks of a page
(`blocks`), which commands run and which are checked another way (`rules`), the sandbox they
run in (`sandbox`) and the checks of the config files the pages show (`files`)."""
