// JupyterLab: the kit as an anywidget module (its files joined, this one last). The page answers the controls; the
// kernel sends numbers, and hears of the controls' choices when the learner leaves them (see binding()).

export default {
  render({model, el}) {
    return kitRender(model, el);
  },
};
