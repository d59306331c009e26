"""cccd"""
