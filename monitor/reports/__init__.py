"""Reports of the study: figures from the research rows, and PDF documents of them."""
