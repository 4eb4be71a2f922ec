"""Retrieval: embedders, vector index, lexical signals, fusion and calibrated confidence.

The only home of faiss, sentence-transformers, the USE encoder and rapidfuzz.
"""
