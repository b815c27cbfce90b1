"""omi-bot's core: the rules of the Marketplace's "Managing OMI Product Versions" page and the
operations that apply them (publish, modify, unpublish, unpublish a product), the OUTSCALE
gateway, the job pipeline and the notices. Slack and the CLI only translate into these calls."""
