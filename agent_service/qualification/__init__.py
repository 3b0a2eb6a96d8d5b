"""Qualification: fields and answers, the qualified rule, editing."""
