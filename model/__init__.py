"""RecallGuard matching library.

normalise, identifiers, encoder, index, features, classifier, decision, bundle save/load.
"""
