"""`cnnlab serve`: a local web app over a folder of runs (a runs table, live curves, comparisons,
a try-it page), served by FastAPI from the run directories alone (`create_app`)."""
