"""What a person touches in Jupyter: the session, the ``%aurous`` magics, displays and widgets."""
