"""The code file of the chat model MLflow logs ("models from code", thinkact.tracking.chat_pyfunc): MLflow copies it
into every logged version and runs it when the model loads (`mlflow.pyfunc.load_model`, `mlflow models serve`); it
only hands MLflow the model object. Not run by hand; `python -c "import runpy; runpy.run_path(PATH)"` checks it runs.
"""
import mlflow

from thinkact.tracking.chat_pyfunc import ThinkactChatModel

mlflow.models.set_model(ThinkactChatModel())
