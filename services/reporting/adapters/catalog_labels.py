"""reporting's copy of catalog labels (channels, areas, projects, categories, case types), so
reports can name what cases refer to by code. Kept from catalog.*_changed events."""

from sqlalchemy import Boolean, Column, Integer, String, Table

from services.reporting.adapters.db import metadata

catalog_labels = Table(
    "catalog_labels", metadata,
    Column("tenant", String(60), primary_key=True),
    Column("kind", String(20), primary_key=True),  # channel | area | project | category | case_type
    Column("code", String(200), primary_key=True),  # categories: their full path
    Column("name_es", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
)
