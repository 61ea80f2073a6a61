document.getElementById("greet").addEventListener("click", function () {
  document.getElementById("greeting").textContent = "你好，" + navigator.userAgent.split(" ")[0];
});
