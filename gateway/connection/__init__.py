"""Connections: configured adapter instances, each serving one support unit or origin system."""
