"""Resource models of the emulator: state and rules, no HTTP (moto's ``models/`` layout)."""
