// Placeholder until this area lands.
