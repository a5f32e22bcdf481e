"""Extract: HTML -> Article (metadata, body candidates and cleaning, language)."""
