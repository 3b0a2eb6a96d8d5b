"""The offline planner's intents: the classifier, the cues, the editable examples."""
