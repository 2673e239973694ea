from bidi_tui.cli import main

main()
