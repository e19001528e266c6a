"""The stages of the funnel: keys, names in each language, win probabilities, stage rules."""
